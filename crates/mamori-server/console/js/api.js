// The JSON API under /api/v1, called with the browser's session cookie. Changes carry the
// CSRF token from the last /me or /login answer; a 401 sends the user to the sign-in page.

export const session = {
  me: null,
  csrf: null,
};

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorised = () => {};
let onMustChangePassword = () => {};

/** What to do when the server says the session is gone (401) or the password must change. */
export function setHandlers({ unauthorised, mustChangePassword }) {
  onUnauthorised = unauthorised;
  onMustChangePassword = mustChangePassword;
}

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls the API. `path` is below /api/v1 (e.g. '/alerts'). Returns the parsed JSON (or null
 * for 204); throws ApiError with the server's `error` message otherwise.
 */
export async function api(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, String(error && error.message ? error.message : error), null);
  }
  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (response.status !== 204 && type.includes('json')) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (response.ok) return data;
  const message = data && typeof data.error === 'string' ? data.error : `${response.status} ${response.statusText}`;
  const error = new ApiError(response.status, message, data);
  if (response.status === 401 && !options.noRedirect) {
    session.me = null;
    session.csrf = null;
    onUnauthorised();
  } else if (response.status === 403 && session.me && session.me.must_change_password && !options.noRedirect) {
    onMustChangePassword();
  }
  throw error;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body, options) => api('POST', path, body ?? {}, options);
export const put = (path, body, options) => api('PUT', path, body ?? {}, options);
export const patch = (path, body, options) => api('PATCH', path, body ?? {}, options);

/** Reads /me into the session (null when not signed in). */
export async function loadMe() {
  try {
    const me = await api('GET', '/me', undefined, { noRedirect: true });
    session.me = me;
    if (me && me.csrf_token) session.csrf = me.csrf_token;
    return me;
  } catch (error) {
    if (error.status === 401) {
      session.me = null;
      session.csrf = null;
      return null;
    }
    throw error;
  }
}
