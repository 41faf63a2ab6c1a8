/**
 * Returns `value` as a string that no longer refers to the AMI message it was read from.
 *
 * Header values are slices of the message text. V8 makes a slice of 13 characters or more a view
 * into its parent, so a Uniqueid or channel name kept for a call's life keeps the whole message
 * (a few hundred bytes) alive with it. In the push benchmark the call model and its list of
 * recent hangups held some 12,000 message texts this way, and ami-bridge spent more time in
 * garbage collection than anywhere else. Values that outlive their message go through here.
 *
 * Prepending a character makes a rope; slicing that flattens the rope into a new string one
 * character longer than the value. The result then refers to that small string only. Should V8
 * ever copy slices outright, this stays correct and merely copies once more.
 */
export function detached(value: string): string {
  return value.length < 13 ? value : ` ${value}`.slice(1);
}

/** `detached` for an optional value. */
export function detachedOptional(value: string | undefined): string | undefined {
  return value === undefined ? undefined : detached(value);
}
