// Sign-in with the issuer: authorization code with PKCE, by oidc-client-ts (discovery, state,
// the verifier and its S256 challenge, the code's exchange). The user is kept in this tab's
// sessionStorage only, and dropped when its token expires.
import { UserManager, WebStorageStateStore } from "oidc-client-ts";
import { jwtDecode } from "jwt-decode";

export const QUERY = "ordering:query";
export const OPERATE = "ordering:operate";
export const EVENTS = "ordering:events";
const EVERY_SCOPE = [QUERY, OPERATE, EVENTS, "ordering:command"];

function consoleUrl() {
  return location.origin + location.pathname.replace(/[^/]*$/, "");
}

function scopesOf(user) {
  try {
    const claims = jwtDecode(user.access_token);
    const raw = claims.scope ?? claims.scp ?? user.scope ?? "";
    return new Set(Array.isArray(raw) ? raw : String(raw).split(" ").filter(Boolean));
  } catch {
    return new Set((user.scope || "").split(" ").filter(Boolean));
  }
}

export class Session {
  constructor(manager, user, { disabled = false, error = null } = {}) {
    this.manager = manager;
    this.user = user;
    this.disabled = disabled;
    this.error = error;
    this.listeners = new Set();
    if (manager) {
      manager.events.addAccessTokenExpired(() => this.expire());
    }
  }

  static async start(config) {
    if (config.auth === "disabled") return new Session(null, null, { disabled: true });
    const here = consoleUrl();
    const manager = new UserManager({
      authority: config.issuer,
      client_id: config.client_id,
      redirect_uri: here,
      post_logout_redirect_uri: here,
      response_type: "code",
      scope: config.scope,
      userStore: new WebStorageStateStore({ store: window.sessionStorage }),
      automaticSilentRenew: false,
      loadUserInfo: false,
    });
    const params = new URLSearchParams(location.search);
    if (params.has("code") || params.has("error")) {
      let user = null;
      let error = null;
      try {
        user = await manager.signinCallback();
      } catch (failure) {
        error = `Sign-in failed: ${failure.message || failure}`;
      }
      history.replaceState(null, "", here + (user?.state?.route || "#/overview"));
      return new Session(manager, user || null, { error });
    }
    let user = await manager.getUser();
    if (user && user.expired) {
      await manager.removeUser();
      user = null;
    }
    return new Session(manager, user);
  }

  get signedIn() {
    return this.disabled || Boolean(this.user);
  }

  get token() {
    return this.user ? this.user.access_token : null;
  }

  get name() {
    if (this.disabled) return "anyone (access control disabled)";
    const profile = this.user?.profile || {};
    return profile.preferred_username || profile.name || profile.sub || "signed in";
  }

  get scopes() {
    if (this.disabled) return new Set(EVERY_SCOPE);
    return this.user ? scopesOf(this.user) : new Set();
  }

  can(scope) {
    return this.scopes.has(scope);
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    for (const listener of this.listeners) listener();
  }

  async expire() {
    await this.manager.removeUser();
    this.user = null;
    this.error = "Your session expired: sign in again.";
    this.changed();
  }

  signIn() {
    return this.manager.signinRedirect({ state: { route: location.hash || "#/overview" } });
  }

  async signOut() {
    const metadata = await this.manager.metadataService.getMetadata().catch(() => ({}));
    if (metadata.end_session_endpoint) {
      await this.manager.signoutRedirect({ id_token_hint: this.user?.id_token });
      return;
    }
    await this.manager.removeUser();
    this.user = null;
    this.error = null;
    this.changed();
  }
}
