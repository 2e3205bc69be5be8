// The gateway's REST API with the credential the user signed in with. The credential stays
// in this tab (sessionStorage): closing the tab signs out, and no cookie carries it.

const STORAGE = "wagate.credential";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(credential) {
    this.credential = credential;
  }

  static saved() {
    const text = sessionStorage.getItem(STORAGE);
    return text ? new Api(text) : null;
  }

  save() {
    sessionStorage.setItem(STORAGE, this.credential);
  }

  static forget() {
    sessionStorage.removeItem(STORAGE);
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.credential}`, ...extra };
  }

  async call(method, path, body) {
    const init = { method, headers: this.headers() };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "unreachable", `the gateway did not answer (${e.message})`);
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = data && data.error ? data.error : { code: "http_" + res.status, message: text || res.statusText };
      throw new ApiError(res.status, err.code, err.message);
    }
    return data;
  }

  get(path) {
    return this.call("GET", path);
  }
  post(path, body = {}) {
    return this.call("POST", path, body);
  }
  put(path, body) {
    return this.call("PUT", path, body);
  }
  patch(path, body) {
    return this.call("PATCH", path, body);
  }
  delete(path) {
    return this.call("DELETE", path);
  }
}

export const enc = encodeURIComponent;
