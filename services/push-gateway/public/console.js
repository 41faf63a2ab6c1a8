// Agent console: sign-in, the live calls, click-to-dial. Plain ES modules, no build step.
import { Connection } from './connection.js';
import { CallsView } from './view.js';

const TOKEN_KEY = 'cti.agentToken';
const DEMO_AGENT_KEY = 'cti.demoAgent';

const byId = (id) => document.getElementById(id);

const ui = {
  signIn: byId('sign-in'),
  tokenForm: byId('token-form'),
  tokenInput: byId('token-input'),
  tokenError: byId('token-error'),
  demoForm: byId('demo-form'),
  demoAgent: byId('demo-agent'),
  workspace: byId('workspace'),
  callsTitle: byId('calls-title'),
  agentInfo: byId('agent-info'),
  agentName: byId('agent-name'),
  agentExtensions: byId('agent-extensions'),
  connection: byId('connection-status'),
  signOut: byId('sign-out'),
  announcer: byId('announcer'),
  notice: byId('session-notice'),
  dialForm: byId('dial-form'),
  dialNumber: byId('dial-number'),
  dialExtension: byId('dial-extension'),
  dialButton: byId('dial-button'),
  dialStatus: byId('dial-status'),
};

const CONNECTION_LABELS = {
  connecting: ['Connecting…', 'connecting'],
  reconnecting: ['Reconnecting…', 'connecting'],
  online: ['Online', 'online'],
  offline: ['Offline', 'offline'],
};

const END_MESSAGES = {
  token_expired: 'Your session has expired. Sign in again.',
  token_rejected: 'The gateway did not accept your token. Sign in again.',
  invalid_frames: 'The connection was closed after invalid messages. Sign in again.',
  rate_limited: 'The connection was closed for sending too much. Sign in again.',
};

let connection = null;
let session = null;
let announceTimer;
/** Request id of the click-to-dial that the status line reports on, and its call id once Asterisk reports one. */
let reportedDial = null;

function announce(text) {
  // Clearing first makes screen readers read a repeated message again.
  ui.announcer.textContent = '';
  window.clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => {
    ui.announcer.textContent = text;
  }, 50);
}

function clearAnnouncement() {
  window.clearTimeout(announceTimer);
  ui.announcer.textContent = '';
}

function setConnectionStatus(status) {
  const [label, kind] = CONNECTION_LABELS[status] ?? CONNECTION_LABELS.offline;
  ui.connection.textContent = label;
  ui.connection.className = `connection connection-${kind}`;
}

function showNotice(text) {
  ui.notice.textContent = text ?? '';
  ui.notice.hidden = !text;
}

const view = new CallsView({
  announce,
  fallbackFocus: ui.dialNumber,
  onCallBack: (number) => {
    ui.dialNumber.value = number;
    ui.dialNumber.focus();
    ui.dialForm.requestSubmit();
  },
});

function decodeClaims(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload));
  } catch {
    return undefined;
  }
}

async function fetchIdentity(token) {
  const response = await fetch('/v1/me', { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message ?? `sign-in failed (${response.status})`);
  }
  return body;
}

async function signIn(token, { demoAgent } = {}) {
  const identity = await fetchIdentity(token);
  session = { token, identity, demoAgent };
  sessionStorage.setItem(TOKEN_KEY, token);
  if (demoAgent) {
    sessionStorage.setItem(DEMO_AGENT_KEY, demoAgent);
  } else {
    sessionStorage.removeItem(DEMO_AGENT_KEY);
  }

  ui.agentName.textContent = identity.agentId;
  ui.agentExtensions.textContent = identity.extensions.join(', ');
  ui.dialExtension.replaceChildren(...identity.extensions.map((extension) => new Option(extension, extension)));
  ui.agentInfo.hidden = false;
  ui.signOut.hidden = false;
  ui.signIn.hidden = true;
  ui.workspace.hidden = false;
  showNotice('');
  view.clear();

  connection?.stop();
  connection = new Connection(token, { onFrame: handleFrame, onStatus: setConnectionStatus, onEnd: endSession });
  connection.start();
  ui.callsTitle.focus();
}

/**
 * Ends the session and removes everything the agent saw, so the next agent on this browser starts
 * from an empty page. The socket's resume cursor is dropped with the Connection object.
 */
function signOut(message) {
  connection?.stop();
  connection = null;
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(DEMO_AGENT_KEY);
  view.clear();
  clearAnnouncement();
  showNotice('');
  resetDialForm();
  ui.agentName.textContent = '';
  ui.agentExtensions.textContent = '';
  ui.workspace.hidden = true;
  ui.agentInfo.hidden = true;
  ui.signOut.hidden = true;
  ui.signIn.hidden = false;
  setConnectionStatus('offline');
  ui.tokenError.textContent = message ?? '';
  ui.tokenInput.focus();
}

function endSession(reason) {
  signOut(END_MESSAGES[reason] ?? 'The connection ended. Sign in again.');
}

async function renewDemoToken() {
  const renewing = session;
  if (!renewing?.demoAgent) {
    showNotice('Your session ends soon. Sign out and sign in again with a new token to continue.');
    return;
  }
  const response = await fetch('/v1/demo/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agentId: renewing.demoAgent }),
  });
  if (response.ok) {
    const body = await response.json();
    // The agent may have signed out meanwhile, and the renewed token must not reach the next agent.
    if (session !== renewing) {
      return;
    }
    session.token = body.token;
    sessionStorage.setItem(TOKEN_KEY, body.token);
    connection?.renew(body.token);
  }
}

function handleFrame(frame) {
  switch (frame.type) {
    case 'snapshot':
      view.applySnapshot(frame);
      clearDialAbsentFrom(frame);
      break;
    case 'recovered':
      if (!frame.recovered) {
        view.applySnapshot(frame.snapshot);
        clearDialAbsentFrom(frame.snapshot);
      }
      break;
    case 'event':
      view.applyEvent(frame.event);
      if (frame.event.type === 'pbx.originate.result') {
        showDialResult(frame.event);
      } else if (frame.event.type === 'call.ended') {
        clearEndedDial(frame.event);
      }
      break;
    case 'token_expiring':
      void renewDemoToken();
      break;
    case 'token_accepted':
      showNotice('');
      break;
    case 'error':
      showNotice(frame.message);
      break;
    default:
      break;
  }
}

function setDialStatus(text, kind = 'info') {
  ui.dialStatus.textContent = text;
  ui.dialStatus.dataset.kind = kind;
}

function resetDialForm() {
  reportedDial = null;
  ui.dialNumber.value = '';
  ui.dialExtension.replaceChildren();
  ui.dialButton.disabled = false;
  setDialStatus('');
}

function showDialResult(event) {
  if (event.status === 'answered') {
    reportedDial = { requestId: event.requestId, callId: event.callId };
    setDialStatus('Your phone answered: the number is being dialled.');
  } else {
    // The error stays until the next dial, also when the rejected leg's call.ended follows.
    reportedDial = null;
    setDialStatus(`The call could not be placed (${event.reason ?? 'failed'}).`, 'error');
  }
}

/**
 * Clears the status line when the reported call ends. Asterisk may report no call id for the
 * click-to-dial, and ami-bridge adds the request id to a call's events only after Asterisk's
 * OriginateResponse, so either one identifies the call.
 */
function clearEndedDial(event) {
  if (reportedDial === null) {
    return;
  }
  const sameCall = reportedDial.callId !== undefined && event.callId === reportedDial.callId;
  const sameRequest = event.originateRequestId !== undefined && event.originateRequestId === reportedDial.requestId;
  if (sameCall || sameRequest) {
    reportedDial = null;
    setDialStatus('');
  }
}

/** Clears the status line when a snapshot no longer lists the reported call, which ended while the socket was down. */
function clearDialAbsentFrom(snapshot) {
  const callId = reportedDial?.callId;
  if (callId === undefined) {
    return;
  }
  const inProgress = snapshot.calls.some((call) => call.events.some((frame) => frame.event.callId === callId));
  if (!inProgress) {
    reportedDial = null;
    setDialStatus('');
  }
}

ui.tokenForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = ui.tokenInput.value.trim();
  ui.tokenError.textContent = '';
  if (token === '') {
    ui.tokenError.textContent = 'Enter your agent token.';
    ui.tokenInput.focus();
    return;
  }
  const claims = decodeClaims(token);
  if (claims?.exp !== undefined && claims.exp * 1000 < Date.now()) {
    ui.tokenError.textContent = 'This token has expired. Ask for a new one.';
    ui.tokenInput.focus();
    return;
  }
  try {
    await signIn(token);
    ui.tokenInput.value = '';
  } catch (error) {
    ui.tokenError.textContent = error.message;
    ui.tokenInput.focus();
  }
});

ui.demoForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const agentId = ui.demoAgent.value;
  const response = await fetch('/v1/demo/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agentId }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    ui.tokenError.textContent = body.message ?? 'demo sign-in failed';
    return;
  }
  await signIn(body.token, { demoAgent: agentId });
});

ui.signOut.addEventListener('click', () => signOut());

ui.dialForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (session === null || ui.dialButton.disabled) {
    return;
  }
  const to = ui.dialNumber.value.trim();
  if (to === '') {
    setDialStatus('Enter a number to call.', 'error');
    ui.dialNumber.focus();
    return;
  }
  // One key per click: a retry of this request places no second call.
  const idempotencyKey = crypto.randomUUID();
  const dialling = session;
  reportedDial = null;
  ui.dialButton.disabled = true;
  setDialStatus(`Calling ${to}: your phone rings first…`);
  try {
    const response = await fetch('/v1/calls', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${dialling.token}`, 'idempotency-key': idempotencyKey },
      body: JSON.stringify({ to, extension: ui.dialExtension.value }),
    });
    const body = await response.json().catch(() => ({}));
    // After a sign-out the form belongs to the next agent, who must not see this call's outcome.
    if (session !== dialling) {
      return;
    }
    if (response.status === 202) {
      // The outcome event can arrive before this response, and then its status line stays.
      if (reportedDial?.requestId !== body.requestId) {
        reportedDial = { requestId: body.requestId };
        setDialStatus(`Calling ${to}: pick up your phone.`);
      }
    } else {
      setDialStatus(body.message ?? `The call could not be placed (${response.status}).`, 'error');
    }
  } catch {
    if (session === dialling) {
      setDialStatus('The gateway cannot be reached.', 'error');
    }
  } finally {
    if (session === dialling) {
      ui.dialButton.disabled = false;
    }
  }
});

async function offerDemo() {
  const response = await fetch('/v1/demo/agents').catch(() => undefined);
  if (response?.ok !== true) {
    return;
  }
  const { agents } = await response.json();
  ui.demoAgent.replaceChildren(...agents.map((agent) => new Option(`${agent.agentId} (extension ${agent.extension})`, agent.agentId)));
  ui.demoForm.hidden = false;
}

async function restore() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token === null) {
    return;
  }
  try {
    await signIn(token, { demoAgent: sessionStorage.getItem(DEMO_AGENT_KEY) ?? undefined });
  } catch {
    signOut('Your session has ended. Sign in again.');
  }
}

setConnectionStatus('offline');
void offerDemo();
void restore();
