// The sign-in page (/ward): username and password, then the wards this user may open.
// The password goes only to POST /v1/web/session; the answer sets an HttpOnly cookie that this
// script never sees.
"use strict";
import { ACCEPT_FRAGMENT } from "/ward-assets/accept-link.js";
import { $, api, ApiError, el, loadSession, wardIds, wardsLeftOut, wireHeader } from "/ward-assets/common.js";

// Where to go after signing in: a ward page of this site only (never another origin: an open
// redirect), with the message link's accept fragment when it came with one (accept-link.js).
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  if (!/^\/ward\/[A-Za-z0-9_-]{1,64}(\/patients\/[A-Za-z0-9_-]{1,64})?$/.test(next)) return null;
  return ACCEPT_FRAGMENT.test(location.hash) ? next + location.hash : next;
}

async function showWards() {
  const session = await loadSession();
  const next = nextPage();
  if (next) {
    location.replace(next);
    return;
  }
  wireHeader();
  $("title").textContent = "Choose a ward";
  $("sign-in").hidden = true;
  const { ids: wards, complete } = await wardIds(session);
  const list = $("ward-list");
  list.replaceChildren(...wards.map((w) => el("li", {}, el("a", { href: "/ward/" + encodeURIComponent(w) }, "Ward " + w))));
  if (wards.length === 0) list.append(el("li", {}, "No ward has been granted to you yet: ask a ward administrator."));
  if (!complete) list.append(el("li", {}, wardsLeftOut(wards.length)));
  $("wards").hidden = false;
  const first = list.querySelector("a");
  if (first) first.focus();
}

function showForm() {
  $("sign-in").hidden = false;
  if (nextPage()) {
    $("notice").textContent = "Sign in to open the page you asked for (you were not signed in, or the session ended).";
  } else if (new URLSearchParams(location.search).has("signed-out")) {
    $("notice").textContent = "You were signed out (the session ended). Please sign in again.";
  }
  $("username").focus();
}

async function signIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.textContent = "";
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    error.textContent = "Enter your username and password.";
    return;
  }
  const button = event.submitter || $("sign-in").querySelector("button");
  button.disabled = true;
  try {
    await api("/v1/web/session", { method: "POST", body: { username, password }, allow401: true });
    $("password").value = "";
    await showWards();
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 401
      ? "The username or password is wrong, or your account is disabled."
      : "Could not sign in: " + err.message;
    $("password").select();
  } finally {
    button.disabled = false;
  }
}

$("sign-in").addEventListener("submit", signIn);
// Already signed in (a valid cookie)? Go straight to the ward list.
api("/v1/web/session", { allow401: true }).then(showWards, showForm);
