// C0 and C1 control characters, DEL included, and the Unicode line separators and bidirectional
// controls: a caller name comes from the caller's own phone or carrier, and an escape sequence in
// it would drive the operator's terminal, a bidi override would show the name reversed.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Text made safe for a terminal: control characters become `\xNN`, or `\uNNNN` above U+00FF. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (character) => {
    const code = character.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}
