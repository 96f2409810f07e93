// Intake forms (群众点单, 代录): small behaviours kept out of the page for the CSP.
(function () {
  // "匿名反映" switches off the name, phone and reporter fields (nothing of them is sent).
  function syncIdentity() {
    var box = document.getElementById("id_is_anonymous");
    var set = document.querySelector("fieldset[data-identity]");
    if (box && set) set.disabled = box.checked;
  }
  document.addEventListener("change", function (event) {
    if (event.target.id === "id_is_anonymous") syncIdentity();
    // Photos: say at once when there are too many or one is too big (the server checks too).
    var input = event.target;
    if (input.matches && input.matches("input[type=file][data-max-files]")) {
      var files = Array.prototype.slice.call(input.files || []);
      var message = "";
      if (files.length > Number(input.dataset.maxFiles)) {
        message = input.dataset.tooMany;
      } else if (files.some(function (f) { return f.size > Number(input.dataset.maxBytes); })) {
        message = input.dataset.tooBig;
      }
      input.setCustomValidity(message);
      if (message) input.reportValidity();
    }
  });
  // Enter in the reporter search box searches instead of sending the whole form.
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key === "Enter" && el.matches && el.matches("[data-enter-search]")) {
      event.preventDefault();
      if (window.htmx) window.htmx.trigger(el, "tx-search");
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });
  syncIdentity();
  // A page restored from the back/forward cache keeps the checkbox state.
  window.addEventListener("pageshow", syncIdentity);
})();
