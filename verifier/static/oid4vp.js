// The OpenID4VP page: make a request, show its QR code, poll for the wallet's answer.
// No framework, no CDN; the result is written with textContent only.
"use strict";

(function () {
  const lang = document.body.dataset.lang === "en" ? "en" : "ja";
  const $ = (id) => document.getElementById(id);
  const text = {
    ja: {
      waiting: "ウォレットの応答を待っています…", expired: "期限が切れました。もう一度依頼してください。",
      ok: "✓ 確認できました", bad: "✗ 確認できませんでした", expires: "有効期限",
      failed: "要求を作れませんでした", tier: "登録区分", municipality: "自治体",
      registeredSince: "登録日", format: "形式", name: "氏名", birthDate: "生年月日",
      registrationTier: "登録区分", tiers: { basic: "ベーシック", premium: "プレミアム" },
    },
    en: {
      waiting: "Waiting for the wallet…", expired: "The request expired; ask again.",
      ok: "✓ Verified", bad: "✗ Not verified", expires: "Expires",
      failed: "Could not make a request", tier: "Tier", municipality: "Municipality",
      registeredSince: "Registered since", format: "Format", name: "Name",
      birthDate: "Date of birth", registrationTier: "Tier",
      tiers: { basic: "basic", premium: "premium" },
    },
  }[lang];
  let timer = null;

  function problem(message) {
    $("oid4vp-problem").textContent = message || "";
    $("oid4vp-problem").hidden = !message;
  }

  function row(list, name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function claimText(name, value) {
    if (name === "registrationTier" && Object.hasOwn(text.tiers, value)) return text.tiers[value];
    if (name === "municipality" && value && typeof value === "object") {
      return [value.prefecture, value.name, value.lgCode ? "(" + value.lgCode + ")" : ""]
        .filter(Boolean).join(" ");
    }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function show(result) {
    $("oid4vp-request").hidden = true;
    $("oid4vp-status").textContent = "";
    const box = $("oid4vp-result");
    box.hidden = false;
    box.className = "result " + (result.verified ? "ok" : "bad");
    $("oid4vp-mark").textContent = result.verified ? "✓" : "✗";
    $("oid4vp-headline").textContent = result.verified ? text.ok : text.bad;
    const claims = $("oid4vp-claims");
    claims.replaceChildren();
    const reasons = $("oid4vp-reasons");
    reasons.replaceChildren();
    for (const reason of result.reasons || []) {
      const li = document.createElement("li");
      li.textContent = reason[lang];
      li.dataset.code = reason.code;
      reasons.appendChild(li);
    }
    for (const credential of result.credentials || []) {
      for (const [name, value] of Object.entries(credential.claims || {})) {
        row(claims, typeof text[name] === "string" ? text[name] : name, claimText(name, value));
      }
      if (credential.summary && credential.summary.formatName) {
        row(claims, text.format, credential.summary.formatName[lang]);
      }
      for (const reason of credential.reasons || []) {
        const li = document.createElement("li");
        li.textContent = reason[lang];
        li.dataset.code = reason.code;
        reasons.appendChild(li);
      }
    }
  }

  async function poll(url) {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const body = await response.json();
      if (!response.ok || body.status === "expired") {
        clearInterval(timer);
        $("oid4vp-status").textContent = text.expired;
        return;
      }
      if (body.result) {
        clearInterval(timer);
        show(body.result);
      }
    } catch (error) {
      problem(String(error));
    }
  }

  async function start() {
    problem("");
    clearInterval(timer);
    $("oid4vp-result").hidden = true;
    try {
      // Asking for name and birth date: only a premium SD-JWT VC can carry them (selectively
      // disclosable); the wallet shows the holder what is asked before anything is sent.
      const person = $("oid4vp-person").checked;
      const response = await fetch("/oid4vp/requests", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(person ? {
          formats: ["dc+sd-jwt"],
          claims: [["registrationTier"], ["municipality", "lgCode"], ["name"], ["birthDate"]],
        } : {}),
      });
      const body = await response.json();
      if (!response.ok) {
        problem(text.failed + ": " + (body.detail || response.status));
        return;
      }
      $("oid4vp-qr").src = body.qr;
      $("oid4vp-link").href = body.uri;
      $("oid4vp-expiry").textContent = text.expires + ": " + jst(body.expiresAt);
      $("oid4vp-request").hidden = false;
      $("oid4vp-status").textContent = text.waiting;
      timer = setInterval(() => poll(body.statusUrl), 1500);
    } catch (error) {
      problem(text.failed + ": " + String(error));
    }
  }

  $("oid4vp-start").addEventListener("click", start);
  $("oid4vp-next").addEventListener("click", start);
})();
