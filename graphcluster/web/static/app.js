// graphcluster review page: answers without reloading, face selection, keyboard shortcuts.
// Plain script, no build step. Every form also works without it (a normal POST and a redirect).
"use strict";
(function () {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const page = document.body.dataset.page;
  const flash = document.getElementById("flash");

  function say(text, bad) {
    flash.textContent = text;
    flash.className = bad ? "bad" : "good";
    flash.hidden = false;
  }

  // POST a form with the page's token; resolves to the JSON answer or throws its error text.
  // (The FormData is made before the caller disables the buttons: a disabled submitter is left out.)
  async function post(form, submitter, data) {
    const action = (submitter && submitter.getAttribute("formaction")) || form.getAttribute("action");
    const reply = await fetch(action, { method: "POST", body: data, headers: { "X-CSRF-Token": token }, credentials: "same-origin" });
    let body = {};
    try { body = await reply.json(); } catch (e) { body = { error: reply.status + " " + reply.statusText }; }
    if (!reply.ok || !body.ok) throw new Error(body.error || ("HTTP " + reply.status));
    return body;
  }

  // -- review: answer a question in place ------------------------------------------------------
  const questions = Array.from(document.querySelectorAll("section.question"));
  let current = 0;
  function focusQuestion(i) {
    if (!questions.length) return;
    current = Math.max(0, Math.min(questions.length - 1, i));
    questions.forEach((q, j) => q.classList.toggle("current", j === current));
    questions[current].scrollIntoView({ block: "nearest" });
  }
  function nextOpen(from) {
    for (let j = from + 1; j < questions.length; j++) if (!questions[j].classList.contains("answered")) return j;
    return from;
  }
  questions.forEach((q, i) => {
    const form = q.querySelector("form.answer");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = ev.submitter;
      const result = form.querySelector(".result");
      const data = new FormData(form, button);
      form.querySelectorAll("button").forEach((b) => (b.disabled = true));
      try {
        await post(form, button, data);
        q.classList.add("answered");
        q.dataset.answer = button.value;
        result.textContent = "saved: " + button.value;
        if (i === current) focusQuestion(nextOpen(i));
      } catch (err) {
        result.textContent = err.message;
        q.classList.add("refused");
        form.querySelectorAll("button").forEach((b) => (b.disabled = false));
      }
      if (questions.every((x) => x.classList.contains("answered"))) say("Page done: reload for the next questions.");
    });
    q.addEventListener("click", () => focusQuestion(i));
  });
  if (questions.length) focusQuestion(0);
  function answerCurrent(value) {
    const q = questions[current];
    if (!q || q.classList.contains("answered")) return;
    q.querySelector('form.answer button[value="' + value + '"]').click();
  }

  // -- faces: selection --------------------------------------------------------------------------
  const tiles = Array.from(document.querySelectorAll("label.tile"));
  const count = document.getElementById("selected-count");
  let last = -1, cursor = -1;
  function boxes() { return tiles.map((t) => t.querySelector("input[type=checkbox]")); }
  function refresh() {
    const n = boxes().filter((b) => b.checked).length;
    tiles.forEach((t) => t.classList.toggle("selected", t.querySelector("input").checked));
    if (count) count.textContent = n + " selected";
  }
  tiles.forEach((t, i) => {
    t.addEventListener("click", (ev) => {
      if (ev.target.tagName === "A") return;
      if (ev.shiftKey && last >= 0) {
        ev.preventDefault();
        const on = !t.querySelector("input").checked;
        for (let j = Math.min(last, i); j <= Math.max(last, i); j++) boxes()[j].checked = on;
      }
      last = cursor = i;
      setTimeout(refresh, 0);
    });
  });
  function selectAll(on) { boxes().forEach((b) => (b.checked = on)); refresh(); }
  const all = document.getElementById("select-all"), none = document.getElementById("select-none");
  if (all) all.addEventListener("click", () => selectAll(true));
  if (none) none.addEventListener("click", () => selectAll(false));
  function moveCursor(d) {
    if (!tiles.length) return;
    cursor = Math.max(0, Math.min(tiles.length - 1, cursor + d));
    tiles.forEach((t, j) => t.classList.toggle("current", j === cursor));
    tiles[cursor].scrollIntoView({ block: "nearest" });
  }
  refresh();

  // -- help and keys -----------------------------------------------------------------------------
  const help = document.getElementById("help");
  document.getElementById("help-toggle").addEventListener("click", () => (help.hidden = !help.hidden));
  let pendingG = false;
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    const k = ev.key;
    if (pendingG) {
      pendingG = false;
      const to = { p: "/people", u: "/unassigned", r: "/review", d: "/decisions" }[k];
      if (to) { location.href = to; return; }
    }
    if (k === "g") { pendingG = true; return; }
    if (k === "?") { help.hidden = !help.hidden; return; }
    if (k === "u") { document.querySelector("#undo-last button").click(); return; }
    if (k === "ArrowLeft" || k === "ArrowRight") {
      const link = document.querySelector(k === "ArrowLeft" ? "a[rel=prev]" : "a[rel=next]");
      if (link) location.href = link.href;
      return;
    }
    if (page === "review") {
      if (k === "j") focusQuestion(current + 1);
      else if (k === "k") focusQuestion(current - 1);
      else if (k === "y") answerCurrent("yes");
      else if (k === "n") answerCurrent("no");
      else if (k === "s") answerCurrent("skip");
      else return;
      ev.preventDefault();
    } else if (page === "faces") {
      if (k === "j") moveCursor(1);
      else if (k === "k") moveCursor(-1);
      else if ((k === "x" || k === " ") && cursor >= 0) { const b = boxes()[cursor]; b.checked = !b.checked; refresh(); }
      else if (k === "a") selectAll(true);
      else if (k === "Escape") selectAll(false);
      else if (k === "r") { const b = document.getElementById("bulk-remove"); if (b) b.click(); }
      else if (k === "m") { const i = document.getElementById("move-to"); if (i) i.focus(); }
      else return;
      ev.preventDefault();
    }
  });
})();
