// Opti ID Admin Center: a few lines of our own JavaScript. Every page works without it;
// this only adds copy buttons, the type-ahead user picker and the role filter.
(function () {
  "use strict";

  function announce(text) {
    var region = document.getElementById("live-region");
    if (region) { region.textContent = ""; window.setTimeout(function () { region.textContent = text; }, 50); }
  }

  // Copy buttons: <button data-copy-target="id-of-element">. The button stays hidden
  // (hidden attribute) until this script shows it, so no-JS users see no dead button.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) { return navigator.clipboard.writeText(text); }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
      document.body.appendChild(area); area.select();
      try { document.execCommand("copy") ? resolve() : reject(new Error("copy failed")); }
      catch (e) { reject(e); } finally { document.body.removeChild(area); }
    });
  }
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      if (!source) { return; }
      var label = button.textContent;
      copyText(source.value !== undefined && source.tagName === "INPUT" ? source.value : source.textContent.trim())
        .then(function () { button.textContent = "Copied"; announce("Copied to the clipboard"); })
        .catch(function () { button.textContent = "Press Ctrl+C"; announce("Select the value and copy it"); })
        .finally(function () { window.setTimeout(function () { button.textContent = label; }, 2000); });
    });
  });

  // Type-ahead user picker: <input data-user-picker list="user-picker-options"
  // data-picker-url="..."> fills its <datalist> from the JSON endpoint as you type.
  document.querySelectorAll("input[data-user-picker]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-picker-url");
    if (!list || !url) { return; }
    var timer = null, lastQuery = "";
    input.addEventListener("input", function () {
      var query = input.value.trim();
      window.clearTimeout(timer);
      if (query.length < 2 || query === lastQuery) { return; }
      timer = window.setTimeout(function () {
        lastQuery = query;
        var sep = url.indexOf("?") === -1 ? "?" : "&";
        fetch(url + sep + "q=" + encodeURIComponent(query), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) {
            list.innerHTML = "";
            data.results.forEach(function (person) {
              var option = document.createElement("option");
              option.value = person.email;
              option.label = person.name ? person.name + " (" + person.email + ")" : person.email;
              list.appendChild(option);
            });
            announce(data.results.length + (data.results.length === 1 ? " person found" : " people found"));
          })
          .catch(function () { /* the field still accepts a typed email */ });
      }, 200);
    });
  });

  // Grant form: show only the roles of the chosen instance's product.
  document.querySelectorAll("select[data-role-filter]").forEach(function (select) {
    var form = select.form;
    function update() {
      var option = select.options[select.selectedIndex];
      var product = option ? option.getAttribute("data-product") : "";
      form.querySelectorAll("fieldset[data-product]").forEach(function (fieldset) {
        var match = !product || fieldset.getAttribute("data-product") === product;
        fieldset.hidden = !match;
        if (!match) { fieldset.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; }); }
      });
    }
    select.addEventListener("change", update);
    update();
  });
})();
