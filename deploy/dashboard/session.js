// cdsync dashboard: the login session (account.h). Served at /session.js
// beside index.html. Shows who is logged in with a logout button in the
// page's <header>; with no session, a link to the login page (a refused
// request says "Chưa đăng nhập ..." in index.html's message line).
// window.cdsyncSession.csrf is the token state-changing requests must
// send as X-CSRF-Token. Machines and tests keep the bearer token.
"use strict";
window.cdsyncSession = { me: null, csrf: "" };

const ROLE_VI = { viewer: "xem", district_admin: "quản trị huyện",
                  province_admin: "quản trị tỉnh", operator: "vận hành" };

async function cdsyncLogout() {
  await fetch("/api/logout", { method: "POST",
    headers: { "X-CSRF-Token": window.cdsyncSession.csrf } });
  location.href = "/login.html";
}

function cdsyncShowUser(me) {
  const header = document.querySelector("header");
  if (!header) return;
  const who = document.createElement("span");
  who.id = "who";
  who.textContent = me.name + " (" + (ROLE_VI[me.role] || me.role) +
                    (me.org_unit ? ", " + me.org_unit : "") + ")";
  const out = document.createElement("button");
  out.id = "logout";
  out.textContent = "Đăng xuất";
  out.addEventListener("click", cdsyncLogout);
  header.append(who, out);
}

(async () => {
  const r = await fetch("/api/me");
  if (r.ok) {
    const me = await r.json();
    window.cdsyncSession = { me, csrf: me.csrf || "" };
    if (!me.machine) cdsyncShowUser(me);
  } else if (r.status === 401) {       // a link, not a redirect: a
    const a = document.createElement("a"); // machine may type its token
    a.id = "login_link";
    a.href = "/login.html";
    a.textContent = "Đăng nhập";
    a.style.color = "#fff";
    document.querySelector("header")?.append(a);
  }
})();
