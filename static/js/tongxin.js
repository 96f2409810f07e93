// Small behaviours that would otherwise be inline script (forbidden by the CSP).
document.addEventListener("click", function (event) {
  // <button data-confirm="…"> asks before a form with consequences is sent.
  var el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.getAttribute("data-confirm"))) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
document.addEventListener("submit", function (event) {
  // A double click sends a form once: the submit buttons are disabled after the first.
  var form = event.target;
  if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
    window.setTimeout(function () { b.disabled = true; }, 0);
  });
});

// The area tree: the first click on "+" loads the children (htmx, once); later clicks
// fold and unfold them without asking the server again.
function txSetExpanded(button, open) {
  button.setAttribute("aria-expanded", String(open));
  var icon = button.querySelector("i");
  if (icon) { icon.className = open ? "bi bi-dash-square" : "bi bi-plus-square"; }
}
document.addEventListener("click", function (event) {
  var button = event.target.closest(".tx-expand");
  if (!button || button.dataset.loaded !== "1") return;
  var list = button.parentElement.querySelector(":scope > ul");
  list.hidden = !list.hidden;
  txSetExpanded(button, !list.hidden);
});
document.addEventListener("htmx:afterSwap", function (event) {
  var button = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (button && button.classList && button.classList.contains("tx-expand")) {
    button.dataset.loaded = "1";
    txSetExpanded(button, true);
  }
});
// Back to a page from the browser's history: its buttons work again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submitted]").forEach(function (form) {
    delete form.dataset.submitted;
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) { b.disabled = false; });
  });
});
