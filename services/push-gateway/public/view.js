// Renders the agent's calls from event frames. Every value from the network goes into the page
// as text (textContent), never as HTML, and only http(s) links become anchors.

const STATE_LABELS = {
  ringing: 'Ringing',
  answered: 'Answered',
  held: 'On hold',
  transferred: 'Transferred',
  ended: 'Ended',
};

const DIRECTION_LABELS = { inbound: 'Inbound', outbound: 'Outbound', internal: 'Internal' };

const DISPOSITION_LABELS = {
  answered: 'answered',
  answered_elsewhere: 'answered elsewhere',
  missed: 'missed',
  busy: 'busy',
  abandoned: 'caller hung up',
  voicemail: 'voicemail',
  failed: 'failed',
};

const MAX_ENDED_CARDS = 5;
const MAX_LIST_ITEMS = 50;

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function safeUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

function formatDuration(milliseconds) {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const pad = (value) => String(value).padStart(2, '0');
  return hours > 0 ? `${hours}:${pad(minutes % 60)}:${pad(seconds % 60)}` : `${minutes}:${pad(seconds % 60)}`;
}

/**
 * Time of day for today, with the date for earlier days, because the missed list reaches back
 * PUSH_MISSED_CALLS_LOOKBACK_HOURS (12 by default, at most 336).
 */
function formatTime(iso) {
  const date = new Date(iso);
  if (date.toDateString() === new Date().toDateString()) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  return date.toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/** Name and number of a party, or whichever of them is known. */
function describeParty(party) {
  if (party.name && party.number) {
    return `${party.name} (${party.number})`;
  }
  return party.name || party.number || 'Unknown';
}

/** The other party of a call, as the agent sees it. */
function otherParty(event) {
  return event.direction === 'outbound' ? event.callee : event.caller;
}

export class CallsView {
  #root;
  #announce;
  #onCallBack;
  #fallbackFocus;
  /** callId -> { card, state, since, event, crm, summary } */
  #calls = new Map();
  #missedIds = new Set();

  /**
   * @param {{ announce(text: string): void, onCallBack(number: string): void, fallbackFocus: HTMLElement }} options
   *   fallbackFocus takes the focus when the card that had it goes away and no other card is left.
   */
  constructor(options) {
    this.#root = {
      calls: document.getElementById('calls'),
      noCalls: document.getElementById('no-calls'),
      missed: document.getElementById('missed'),
      noMissed: document.getElementById('no-missed'),
      summaries: document.getElementById('summaries'),
      noSummaries: document.getElementById('no-summaries'),
    };
    this.#announce = options.announce;
    this.#onCallBack = options.onCallBack;
    this.#fallbackFocus = options.fallbackFocus;
    // The view lives as long as the page, so its timer is never cleared.
    setInterval(() => this.#tick(), 1000);
  }

  clear() {
    this.#calls.clear();
    this.#missedIds.clear();
    this.#root.calls.replaceChildren();
    this.#root.missed.replaceChildren();
    this.#root.summaries.replaceChildren();
    this.#refreshEmptyStates();
  }

  /** Replaces the view with a snapshot: the calls in progress and the recent missed calls. */
  applySnapshot(snapshot) {
    this.clear();
    for (const call of snapshot.calls) {
      for (const frame of call.events) {
        this.applyEvent(frame.event, { quiet: true });
      }
    }
    for (const frame of snapshot.missed) {
      this.applyEvent(frame.event, { quiet: true });
    }
  }

  applyEvent(event, { quiet = false } = {}) {
    switch (event.type) {
      case 'call.ringing':
        this.#update(event, 'ringing', undefined, quiet);
        if (!quiet) {
          const party = otherParty(event);
          this.#announce(`Incoming call from ${party.name || party.number || 'an unknown number'}`);
        }
        break;
      case 'call.answered':
      case 'call.resumed':
        this.#update(event, 'answered', undefined, quiet);
        break;
      case 'call.held':
        this.#update(event, 'held', undefined, quiet);
        break;
      case 'call.transferred':
        this.#update(event, 'transferred', event.target.extension ?? event.target.number, quiet);
        break;
      case 'call.ended':
        this.#update(event, 'ended', DISPOSITION_LABELS[event.disposition] ?? event.disposition, quiet);
        break;
      case 'call.missed':
        this.#addMissed(event, quiet);
        break;
      case 'crm.caller.identified':
        this.#identify(event);
        break;
      case 'crm.call.summary':
        this.#addSummary(event);
        break;
      default:
        break;
    }
  }

  #update(event, state, detail, quiet) {
    let call = this.#calls.get(event.callId);
    if (call === undefined) {
      call = { card: this.#createCard(event), crm: undefined, summary: undefined };
      this.#calls.set(event.callId, call);
      this.#root.calls.prepend(call.card);
    }
    if (call.state !== state || state === 'ended') {
      // Live events start the timer now, so a PBX clock that is off does not show. A snapshot's
      // events happened earlier and count from when they occurred.
      call.since = quiet ? Date.parse(event.occurredAt) || Date.now() : Date.now();
    }
    call.state = state;
    call.event = event;
    call.detail = detail;
    this.#render(call);
    if (state === 'ended') {
      this.#trimEnded();
    }
    this.#refreshEmptyStates();
  }

  #createCard(event) {
    const card = element('li', { class: 'card', 'data-call-id': event.callId });
    const titleId = `call-${event.callId.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    const article = element('article', { 'aria-labelledby': titleId });
    const header = element('div', { class: 'card-header' });
    // The title can take focus from script, when a neighbouring card is dismissed.
    header.append(element('h3', { id: titleId, class: 'card-title', tabindex: '-1' }), element('p', { class: 'card-state' }));
    const details = element('dl');
    article.append(header, details, element('div', { class: 'card-crm' }), element('div', { class: 'card-summary' }));
    const dismiss = element('button', { type: 'button', class: 'secondary card-dismiss', hidden: '' }, 'Dismiss');
    dismiss.addEventListener('click', () => {
      this.#removeCard(event.callId);
      this.#refreshEmptyStates();
    });
    article.append(dismiss);
    card.append(article);
    return card;
  }

  #render(call) {
    const { card, event } = call;
    const party = otherParty(event);
    card.dataset.state = call.state;
    const name = call.crm?.name || party.name || party.number || 'Unknown caller';
    card.querySelector('.card-title').textContent = name;
    const stateText = STATE_LABELS[call.state] + (call.detail ? ` (${call.detail})` : '');
    const stateNode = card.querySelector('.card-state');
    // A call in progress counts up from its last change of state; an ended one shows its talk time.
    const timer =
      call.state === 'ended'
        ? element('span', { class: 'card-talk' }, `· talked ${formatDuration((event.talkSeconds ?? 0) * 1000)}`)
        : element('time', { class: 'card-timer' }, formatDuration(Date.now() - call.since));
    stateNode.replaceChildren(document.createTextNode(`${stateText} `), timer);

    const rows = [
      ['Number', party.number || 'withheld'],
      ['Caller ID name', party.name || '—'],
      ['Direction', DIRECTION_LABELS[event.direction] ?? event.direction],
      ['Queue', event.queue?.name ?? '—'],
      ['Extension', event.extension],
    ];
    const details = card.querySelector('dl');
    details.replaceChildren(...rows.flatMap(([term, value]) => [element('dt', {}, term), element('dd', {}, value)]));
    this.#renderCrm(call);
    this.#renderSummary(call);
    card.querySelector('.card-dismiss').hidden = call.state !== 'ended';
  }

  #renderCrm(call) {
    const container = call.card.querySelector('.card-crm');
    if (call.crm === undefined) {
      container.replaceChildren();
      return;
    }
    const list = element('dl', { class: 'crm-details' });
    const contact = element('dd');
    const url = safeUrl(call.crm.url);
    if (url !== undefined) {
      const link = element('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'crm-link' }, call.crm.name);
      link.append(element('span', { class: 'visually-hidden' }, ` (open the ${call.crm.module} record in SuiteCRM, new tab)`));
      contact.append(link);
    } else {
      contact.textContent = call.crm.name;
    }
    list.append(element('dt', {}, call.crm.module === 'Contacts' ? 'Contact' : call.crm.module), contact);
    list.append(element('dt', {}, 'Account'), element('dd', { class: 'crm-account' }, call.crm.accountName ?? '—'));
    container.replaceChildren(list);
  }

  #renderSummary(call) {
    const container = call.card.querySelector('.card-summary');
    if (call.summary === undefined) {
      container.replaceChildren();
      return;
    }
    const block = element('section', { class: 'summary', 'aria-label': 'AI call summary' });
    block.append(element('h4', {}, call.summary.title ?? 'AI summary'), element('p', {}, call.summary.summary));
    container.replaceChildren(block);
  }

  #identify(event) {
    const best = event.matches[0];
    const call = this.#calls.get(event.callId);
    if (best === undefined || call === undefined) {
      return;
    }
    call.crm = best;
    this.#render(call);
    this.#announce(`Caller identified: ${best.name}${best.accountName ? `, ${best.accountName}` : ''}`);
  }

  #addMissed(event, quiet) {
    if (this.#missedIds.has(event.callId)) {
      return;
    }
    this.#missedIds.add(event.callId);
    const party = otherParty(event);
    const item = element('li', { 'data-call-id': event.callId });
    const caller = describeParty(party);
    const time = formatTime(event.occurredAt);
    const label = element('span', {}, `${caller} · `);
    label.append(element('time', { datetime: event.occurredAt }, time));
    item.append(label);
    if (party.number) {
      // Several missed calls can come from one caller, so the label carries the time as well.
      const button = element('button', { type: 'button', 'aria-label': `Call back ${caller}, missed at ${time}` }, 'Call back');
      button.addEventListener('click', () => this.#onCallBack(party.number));
      item.append(button);
    }
    this.#root.missed.prepend(item);
    while (this.#root.missed.children.length > MAX_LIST_ITEMS) {
      this.#root.missed.lastElementChild.remove();
    }
    if (!quiet) {
      this.#announce(`Missed call from ${party.name || party.number || 'an unknown number'}`);
    }
    this.#refreshEmptyStates();
  }

  #addSummary(event) {
    const call = this.#calls.get(event.callId);
    if (call !== undefined) {
      call.summary = event;
      this.#render(call);
    }
    const item = element('li', { 'data-call-id': event.callId });
    const text = element('div');
    text.append(element('strong', {}, event.title ?? 'Call summary'), element('p', {}, event.summary));
    item.append(text);
    this.#root.summaries.prepend(item);
    while (this.#root.summaries.children.length > MAX_LIST_ITEMS) {
      this.#root.summaries.lastElementChild.remove();
    }
    this.#refreshEmptyStates();
  }

  #trimEnded() {
    const ended = [...this.#calls.entries()].filter(([, call]) => call.state === 'ended');
    for (const [callId] of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_CARDS))) {
      this.#removeCard(callId);
    }
  }

  /**
   * Removes a call's card. When the focus was inside it, the focus moves to the title of the next
   * card (or of the one before), or to fallbackFocus when no card is left, instead of to <body>.
   */
  #removeCard(callId) {
    const card = this.#calls.get(callId)?.card;
    if (card === undefined) {
      return;
    }
    const hadFocus = card.contains(document.activeElement);
    const neighbour = card.nextElementSibling ?? card.previousElementSibling;
    card.remove();
    this.#calls.delete(callId);
    if (hadFocus) {
      (neighbour?.querySelector('.card-title') ?? this.#fallbackFocus).focus();
    }
  }

  #tick() {
    for (const call of this.#calls.values()) {
      if (call.state === 'ended') {
        continue;
      }
      const timer = call.card.querySelector('.card-timer');
      if (timer !== null) {
        timer.textContent = formatDuration(Date.now() - call.since);
      }
    }
  }

  #refreshEmptyStates() {
    this.#root.noCalls.hidden = this.#calls.size > 0;
    this.#root.noMissed.hidden = this.#root.missed.children.length > 0;
    this.#root.noSummaries.hidden = this.#root.summaries.children.length > 0;
  }
}
