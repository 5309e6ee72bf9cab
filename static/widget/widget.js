/* Feedback widget: a survey as an accessible pop-up. No dependencies.
 * Options and protocol: docs/responses/widget.md */
(() => {
  "use strict";
  const w = window, d = document;
  if (w.FeedbackWidget && w.FeedbackWidget.version) return;
  const me = d.currentScript;
  const BASE = me && me.src ? new URL(me.src).origin : "";
  const STORE = "feedbackWidget:";
  const pending = {};
  let current = null;
  const CSS =
    ":host{all:initial}*{box-sizing:border-box}" +
    ".ov{position:fixed;inset:0;z-index:2147483000;background:#0008;display:flex;align-items:center;justify-content:center;padding:.5rem;font:16px/1.45 system-ui,sans-serif;color:#1a1a1a}" +
    ".dlg{background:#fff;border-radius:.5rem;width:100%;max-width:30rem;max-height:100%;overflow:auto;padding:1rem}.dlg:focus{outline:0}" +
    ".hd{display:flex;justify-content:space-between;align-items:start}h2{font-size:1.2rem;margin:.4rem 0 .75rem}" +
    "fieldset{border:0;margin:0 0 1rem;padding:0;min-width:0}legend,.lb{display:block;font-weight:600;margin:0 0 .4rem;padding:0}.q{margin:0 0 1rem}" +
    ".sc{display:grid;gap:.25rem;grid-auto-flow:column;grid-auto-columns:1fr}" +
    "button{font:inherit;cursor:pointer;color:inherit}.pt,textarea{border:1px solid #6b7280;border-radius:.35rem;background:#fff}.pt{min-height:2.75rem}" +
    ".pt[aria-pressed=true],.go{background:#1d4ed8;border-color:#1d4ed8;color:#fff;font-weight:700}" +
    ":focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}" +
    ".ends{display:flex;justify-content:space-between;gap:.5rem}.ends,.hint{font-size:.85rem;color:#4b5563;margin:.3rem 0 0}" +
    "ul{list-style:none;margin:0;padding:0}li{display:flex;gap:.5rem;align-items:center;padding:.2rem 0}li input{width:1.25rem;height:1.25rem;margin:0;accent-color:#1d4ed8}" +
    "textarea{display:block;width:100%;min-height:5rem;font:inherit;padding:.5rem}" +
    ".err,.sm{color:#b91c1c;font-weight:600;margin:.3rem 0 .5rem}.err:empty{display:none}[aria-invalid]{border-color:#b91c1c}" +
    ".x{background:0;border:0;font-size:1.6rem;min-width:2.75rem;min-height:2.75rem}" +
    ".go{display:block;width:100%;border:0;border-radius:.35rem;padding:.7rem}.go[disabled]{opacity:.75}" +
    ".vh{position:absolute;clip-path:inset(50%)}" +
    "@media (max-width:400px){.s11{grid-auto-flow:row;grid-template-columns:repeat(6,1fr)}}";

  const h = (tag, attrs, kids) => {
    const el = d.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach((c) => c != null && el.append(c));
    return el;
  };

  const seen = (id) => {
    try {
      const v = JSON.parse(localStorage.getItem(STORE + id));
      return !!v && v.until > Date.now();
    } catch (e) { return false; }
  };

  const remember = (id, days, state) => {
    try {
      localStorage.setItem(STORE + id, JSON.stringify({ state, until: Date.now() + days * 864e5 }));
    } catch (e) { /* storage off: may show again */ }
  };

  const uuid = () => {
    const c = w.crypto;
    if (c.randomUUID) return c.randomUUID();
    const b = c.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  };

  function show(o) {
    o = o || {};
    const id = o.survey;
    if (!id || pending[id] || current || (!o.force && seen(id))) return;
    const params = {};
    for (const [k, v] of Object.entries(o.identity || {})) params[k] = String(v);
    for (const [k, v] of Object.entries(o.attributes || {})) params[k.startsWith("a.") ? k : "a." + k] = String(v);
    const ctx = {
      id,
      params,
      base: String(o.base || BASE).replace(/\/+$/, ""),
      days: o.remember == null ? 30 : +o.remember,
      lang: o.lang || d.documentElement.lang || navigator.language || "",
    };
    pending[id] = true;
    setTimeout(() => {
      const q = new URLSearchParams(params);
      q.set("lang", ctx.lang);
      fetch(`${ctx.base}/w/${encodeURIComponent(id)}/config?${q}`, { credentials: "omit" })
        .then((r) => (r.ok ? r.json() : null))
        .then((c) => { if (c && c.show && c.questions.length && !current) render(c, ctx); })
        .catch(() => { /* no survey then */ })
        .then(() => { delete pending[id]; });
    }, Math.max(0, +o.delay || 0) * 1000);
  }

  function render(c, ctx) {
    const T = c.texts, ui = {}, answers = {}, key = uuid(), back = d.activeElement;
    let answered = false;
    const host = h("div", { "data-feedback-widget": ctx.id });
    const root = host.attachShadow({ mode: "open" });
    if (root.adoptedStyleSheets && CSSStyleSheet.prototype.replaceSync) {
      const sheet = new CSSStyleSheet(); // allowed under a strict style-src CSP
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else root.append(h("style", { text: CSS }));
    const sum = h("p", { class: "sm", role: "alert" });
    const go = h("button", { type: "submit", class: "go", text: T.submit });
    const form = h("form", { novalidate: true, onsubmit: submit }, c.questions.map(question).concat([sum, go]));
    const dlg = h("div", { class: "dlg", role: "dialog", "aria-modal": "true", "aria-labelledby": "fw-t", lang: c.survey.language, tabindex: "-1", onkeydown: keys }, [
      h("div", { class: "hd" }, [
        h("h2", { id: "fw-t", text: T.title }),
        h("button", { type: "button", class: "x", "aria-label": T.close, onclick: close }, [h("span", { "aria-hidden": "true", text: "\u00d7" })]),
      ]),
      form,
    ]);
    const ov = h("div", { class: "ov", onclick: (e) => e.target === ov && close() }, [dlg]);
    root.append(ov);
    d.body.append(host);
    d.addEventListener("focusin", guard);
    current = { close };
    dlg.focus();

    function question(q, i) {
      const n = "fw-" + i, err = h("p", { class: "err", id: n + "-e" }), desc = [n + "-e"];
      const req = q.required ? [h("span", { "aria-hidden": "true", text: " *" }), h("span", { class: "vh", text: ` (${T.required_label})` })] : [];
      const u = (ui[q.id] = { q, err });
      const set = (v) => { answers[q.id] = v; ok(q.id); };
      let kids;
      if (q.scale.length) {
        const pts = q.scale.map((v) => h("button", { type: "button", class: "pt", "aria-pressed": "false", text: v, onclick: () => {
          set(v);
          pts.forEach((b) => b.setAttribute("aria-pressed", b.textContent === String(v)));
          if (q.type === "nps") followUp(q.id, v);
        } }));
        u.ctl = pts[0];
        kids = [h("div", { class: "sc s" + pts.length }, pts)];
        if (q.low_label || q.high_label) {
          desc.unshift(n + "-d");
          kids.push(h("p", { class: "ends", id: n + "-d" }, [
            h("span", { text: q.low_label && `${q.scale[0]} = ${q.low_label}` }),
            h("span", { text: q.high_label && `${q.scale[q.scale.length - 1]} = ${q.high_label}` }),
          ]));
        }
      } else if (q.options.length) {
        const change = () => {
          const on = [...form.querySelectorAll(`input[name=${n}]:checked`)].map((x) => x.value);
          set(q.multiple ? on : on[0]);
        };
        kids = [
          q.multiple ? h("p", { class: "hint", text: T.choose_all }) : null,
          h("ul", {}, q.options.map((o, j) => h("li", {}, [
            h("input", { type: q.multiple ? "checkbox" : "radio", name: n, id: `${n}-${j}`, value: o.id, onchange: change }),
            h("label", { for: `${n}-${j}`, text: o.label }),
          ]))),
        ];
      }
      if (kids) {
        kids.push(err);
        const fs = h("fieldset", { "aria-describedby": desc.join(" ") }, [h("legend", {}, [q.text, ...req]), ...kids]);
        u.ctl = u.ctl || fs.querySelector("input");
        u.mark = fs;
        return fs;
      }
      u.label = h("span", { text: q.text });
      if (q.max_length) desc.unshift(n + "-h");
      u.ctl = u.mark = h("textarea", { id: n, rows: 4, maxlength: q.max_length, "aria-describedby": desc.join(" "), oninput: () => set(u.ctl.value) });
      return h("div", { class: "q" }, [
        h("label", { class: "lb", for: n }, [u.label, ...req]),
        u.ctl,
        q.max_length ? h("p", { class: "hint", id: n + "-h", text: T.max_length.replace("%(max)s", q.max_length) }) : null,
        err,
      ]);
    }

    function followUp(qid, v) {
      for (const q of c.questions) {
        if (q.follow_up_for === qid && ui[q.id].label) ui[q.id].label.textContent = q.texts_by_group[v <= 6 ? "detractor" : v <= 8 ? "passive" : "promoter"] || q.text;
      }
    }

    function ok(qid) {
      ui[qid].err.textContent = sum.textContent = "";
      ui[qid].mark.removeAttribute("aria-invalid");
    }

    function setErrors(errors) {
      let first = null;
      for (const [qid, u] of Object.entries(ui)) {
        ok(qid);
        if (!errors[qid]) continue;
        u.err.textContent = errors[qid].join(" ");
        u.mark.setAttribute("aria-invalid", "true");
        first = first || u.ctl;
      }
      return first;
    }

    function submit(e) {
      e.preventDefault();
      const missing = {};
      for (const q of c.questions) {
        const a = answers[q.id];
        if (q.required && (a == null || String(a).trim() === "")) missing[q.id] = [T.required];
      }
      const first = setErrors(missing);
      if (first) return fail(T.check, first);
      go.disabled = true;
      go.textContent = T.sending;
      sum.textContent = "";
      fetch(`${ctx.base}/w/${encodeURIComponent(ctx.id)}/responses`, {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ idempotency_key: key, lang: c.survey.language, answers, identity: ctx.params, page_url: location.origin + location.pathname }),
      })
        .then((r) => r.json().catch(() => ({})).then((b) => {
          if (r.ok) return thanks();
          const errs = b.errors || {};
          const other = Object.keys(errs).filter((k) => !ui[k]).map((k) => errs[k].join(" "));
          fail(other.join(" ") || b.title || T.failed, setErrors(errs));
        }))
        .catch(() => fail(T.failed));
    }

    function fail(message, focus) {
      go.disabled = false;
      go.textContent = T.submit;
      sum.textContent = message;
      if (focus) focus.focus();
    }

    function thanks() {
      answered = true;
      remember(ctx.id, ctx.days, "answered");
      const msg = h("p", { class: "lb", tabindex: "-1", text: T.thank_you });
      form.replaceWith(
        h("div", { role: "status" }, [msg, h("p", { text: T.thank_you_detail })]),
        h("button", { type: "button", class: "go", text: T.close, onclick: close }),
      );
      msg.focus();
    }

    function keys(e) {
      if (e.key === "Escape") return close();
      if (e.key !== "Tab") return;
      const f = [...dlg.querySelectorAll("button,input,textarea")].filter((el) => !el.disabled);
      const at = root.activeElement, last = f[f.length - 1];
      if (e.shiftKey && (at === f[0] || at === dlg)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && at === last) { e.preventDefault(); f[0].focus(); }
    }

    function guard(e) { if (e.target !== host) dlg.focus(); }

    function close() {
      if (!answered) remember(ctx.id, ctx.days, "dismissed");
      d.removeEventListener("focusin", guard);
      host.remove();
      current = null;
      if (back && back.focus) back.focus();
    }
  }

  function scan() {
    for (const el of d.querySelectorAll("[data-feedback-survey]")) {
      const s = el.dataset;
      let identity = null;
      try { identity = JSON.parse(s.feedbackIdentity || "null"); } catch (e) { /* anonymous */ }
      show({ survey: s.feedbackSurvey, delay: s.feedbackDelay, lang: s.feedbackLang, identity });
    }
  }

  const queued = (w.FeedbackWidget && w.FeedbackWidget.q) || [];
  w.FeedbackWidget = { version: "1", show, close: () => current && current.close() };
  queued.forEach(show);
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
