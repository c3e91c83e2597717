// The scanner page: camera, upload and paste, one result at arm's length.
// No framework, no CDN: the verifying device may be offline.
"use strict";

(function () {
  const lang = document.body.dataset.lang === "en" ? "en" : "ja";
  const $ = (id) => document.getElementById(id);
  const text = {
    ja: {
      name: "氏名", birthDate: "生年月日", municipality: "自治体", tier: "登録区分", validUntil: "有効期限", format: "形式",
      noCamera: "カメラを使えません。写真を選ぶか、テキストを貼り付けてください。",
      looking: "QR コードを探しています…", checking: "確認しています…",
      expires: "有効期限", failed: "確認できませんでした",
    },
    en: {
      name: "Name", birthDate: "Date of birth", municipality: "Municipality", tier: "Tier", validUntil: "Valid until", format: "Format",
      noCamera: "The camera is not available. Choose a photo or paste the text.",
      looking: "Looking for a QR code…", checking: "Checking…",
      expires: "Expires", failed: "Could not check",
    },
  }[lang];

  let challenge = "";
  let stream = null;
  let busy = false;

  function showProblem(message) {
    const box = $("client-problem");
    box.textContent = message;
    box.hidden = !message;
  }

  function item(parent, tag, content, code) {
    const node = document.createElement(tag);
    node.textContent = content;
    if (code) node.dataset.code = code;
    parent.appendChild(node);
  }

  function showResult(outcome) {
    const result = $("result");
    result.replaceChildren();
    result.className = "result " + (outcome.verified ? "ok" : "bad");
    item(result, "div", outcome.verified ? "✓" : "✗");
    result.lastChild.className = "mark";
    result.lastChild.id = "mark";
    item(result, "h2", outcome.headline[lang]);
    result.lastChild.className = "headline";
    result.lastChild.id = "headline";
    const summary = document.createElement("dl");
    summary.className = "summary";
    summary.id = "summary";
    const s = outcome.summary;
    if (s.name) { item(summary, "dt", text.name); item(summary, "dd", s.name); }
    if (s.birthDate) { item(summary, "dt", text.birthDate); item(summary, "dd", s.birthDate); }
    if (s.municipality) { item(summary, "dt", text.municipality); item(summary, "dd", s.municipality); }
    if (s.tier) { item(summary, "dt", text.tier); item(summary, "dd", s.tierName[lang]); }
    if (s.validUntil) { item(summary, "dt", text.validUntil); item(summary, "dd", s.validUntil); }
    if (s.formatName) { item(summary, "dt", text.format); item(summary, "dd", s.formatName[lang]); }
    result.appendChild(summary);
    const reasons = document.createElement("ul");
    reasons.className = "reasons";
    reasons.id = "reasons";
    outcome.reasons.forEach((r) => item(reasons, "li", r[lang], r.code));
    result.appendChild(reasons);
    const warnings = document.createElement("ul");
    warnings.className = "warnings";
    warnings.id = "warnings";
    outcome.warnings.forEach((w) => item(warnings, "li", "! " + w[lang], w.code));
    result.appendChild(warnings);
    const next = document.createElement("button");
    next.type = "button";
    next.id = "next";
    next.className = "secondary";
    next.textContent = lang === "ja" ? "次の人を確認" : "Check the next person";
    next.addEventListener("click", reset);
    result.appendChild(next);
    result.hidden = false;
    $("scanner").hidden = true;
    next.focus();
  }

  async function answer(response) {
    const body = await response.json().catch(() => null);
    if (response.ok && body && "verified" in body) {
      showResult(body);
      if ($("interactive-mode").checked) newChallenge();
      return true;
    }
    if (body && body.code === "qr_not_found") return false;
    showProblem(body && body.messages ? body.messages[lang] + " [" + body.code + "]" : text.failed);
    return true;
  }

  async function verifyPayload(payload) {
    const response = await fetch("/api/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ payload: payload, challenge: challenge || null }),
    });
    return answer(response);
  }

  async function verifyImage(blob) {
    const query = challenge ? "?challenge=" + encodeURIComponent(challenge) : "";
    const response = await fetch("/api/verify-image" + query, {
      method: "POST",
      headers: { "Content-Type": blob.type || "image/png" },
      body: blob,
    });
    return answer(response);
  }

  async function newChallenge() {
    const response = await fetch("/api/challenge", { method: "POST" });
    const body = await response.json();
    challenge = body.challenge;
    $("challenge-field").value = challenge;
    $("challenge-text").textContent = challenge;
    $("challenge-qr").src = body.qr;
    $("challenge-expiry").textContent = text.expires + ": " + jst(body.expiresAt);
    $("challenge-box").hidden = false;
  }

  function setInteractive(on) {
    if (on) {
      newChallenge();
    } else {
      challenge = "";
      $("challenge-field").value = "";
      $("challenge-box").hidden = true;
    }
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
  }

  async function startCamera() {
    showProblem("");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      $("camera-status").textContent = text.noCamera;
      return;
    }
    const video = $("camera");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    $("camera-status").textContent = text.looking;
    let detector = null;
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) { detector = null; }
    }
    const canvas = document.createElement("canvas");
    const tick = async () => {
      if (!stream) return;
      if (!busy && video.videoWidth) {
        busy = true;
        try {
          if (detector) {
            const codes = await detector.detect(video);
            if (codes.length === 1) {
              $("camera-status").textContent = text.checking;
              stopCamera();
              await verifyPayload(codes[0].rawValue);
            }
          } else {
            // No BarcodeDetector here: this device's verifier decodes the frame (zxing).
            canvas.width = video.videoWidth;
            canvas.height = video.videoHeight;
            canvas.getContext("2d").drawImage(video, 0, 0);
            const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
            if (blob && (await verifyImage(blob))) stopCamera();
          }
        } finally {
          busy = false;
        }
      }
      if (stream) setTimeout(tick, 300);
    };
    tick();
  }

  function reset() {
    $("result").hidden = true;
    $("scanner").hidden = false;
    $("payload").value = "";
    $("image").value = "";
    showProblem("");
    $("camera-status").textContent = "";
  }

  $("verify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showProblem("");
    const file = $("image").files[0];
    const payload = $("payload").value.trim();
    if (file) {
      if (!(await verifyImage(file))) {
        showProblem(lang === "ja" ? "画像に QR コードが見つかりません" : "No QR code found in the image");
      }
    } else {
      await verifyPayload(payload);
    }
  });
  $("camera-start").addEventListener("click", startCamera);
  $("interactive-mode").addEventListener("change", (e) => setInteractive(e.target.checked));
  $("new-challenge").addEventListener("click", newChallenge);
  const next = $("next");
  if (next) next.addEventListener("click", reset);
  if ($("interactive-mode").checked) setInteractive(true);
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    $("camera-start").disabled = true;
    $("camera-status").textContent = text.noCamera;
  }
})();
