// What both pages share: the sign-in form, the balance in the top bar, signing out.

import { api, describe, session, whenKeyRefused } from "./api.js";
import { errorLine, h } from "./dom.js";
import { usd } from "./format.js";

const signInSection = () => document.getElementById("sign-in");
const app = () => document.getElementById("app");

/** Shows the app once a key is signed in: `check(key)` says whether the key may use this page (it throws an
 *  ApiError to refuse it), `start()` builds the page afresh and returns what stops its background work. */
export function startShell({ title, lead, check, start }) {
  let stop = null;

  async function enter(key, fromStorage) {
    await check(key);
    session.set(key);
    document.getElementById("topnav").hidden = false;
    document.getElementById("account").hidden = false;
    signInSection().hidden = true;
    app().hidden = false;
    await refreshBalance();
    stop = await start();
    if (!fromStorage) document.getElementById("main").focus();
  }

  function showSignIn(reason) {
    session.clear();
    if (stop) stop();
    stop = null;
    app().hidden = true;
    document.getElementById("topnav").hidden = true;
    document.getElementById("account").hidden = true;
    signInSection().hidden = false;
    signInSection().replaceChildren(signInCard(title, lead, reason, enter));
    signInSection().querySelector("input").focus();
  }

  whenKeyRefused((error) => showSignIn(describe(error)));
  document.getElementById("sign-out").addEventListener("click", () => showSignIn(""));

  const stored = session.key;
  if (stored) {
    enter(stored, true).catch((error) => showSignIn(describe(error)));
  } else {
    showSignIn("");
  }
}

function signInCard(title, lead, reason, enter) {
  const error = errorLine("key-error");
  const input = h("input", {
    type: "password", id: "api-key", autocomplete: "off", spellcheck: "false", required: true,
    placeholder: "sk-…", "aria-describedby": "key-hint key-error",
  });
  const button = h("button", { type: "submit", class: "button large" }, "Sign in");
  const form = h("form", { novalidate: true, "aria-labelledby": "sign-in-title" },
    h("div", { class: "field" },
      h("label", { for: "api-key" }, "API key"),
      input,
      h("p", { class: "hint", id: "key-hint" }, "The key printed by reelserve's first start, or one an admin made for you."),
      error.element,
    ),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.show("Enter your API key.", input);
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      await enter(key, false);
    } catch (problem) {
      error.show(describe(problem), input);
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  return h("div", { class: "card" },
    h("h1", { id: "sign-in-title" }, title),
    h("p", { class: "lead" }, lead),
    reason ? h("p", { class: "notice error", role: "alert" }, reason) : null,
    form,
    h("p", { class: "fine-print" },
      "The key stays in this browser tab's session storage and is sent only to this server, in the Authorization header. Closing the tab forgets it."),
  );
}

export async function refreshBalance() {
  const shown = document.getElementById("balance");
  try {
    const data = await api("/api/v3/balance");
    shown.textContent = usd(data.balance);
    shown.title = "";
  } catch (error) {
    shown.textContent = "unknown";
    shown.title = describe(error);
  }
}

/** Checks a key by asking for its balance; a refusal is an ApiError in the server's words. */
export async function checkKey(key) {
  await api("/api/v3/balance", { key, quietAuth: true });
}
