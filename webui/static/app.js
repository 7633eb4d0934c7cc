// Behaviour of every page, kept out of the templates: the Content-Security-Policy allows no inline script.

// A picker's search box (templates/start/_picker.html): Enter searches; it must not submit the start
// form half-filled.
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.matches && event.target.matches("input[data-enter-searches]")) {
    event.preventDefault();
  }
});

// Repeatable rows of an array-of-objects field (templates/macros/fields.html `rows`): "Add a row" copies the
// blank row, numbering its inputs after the last row, up to the field's maxItems.
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("button[data-add-row]");
  if (!button) return;
  const fieldset = button.closest("fieldset[data-rows]");
  const body = fieldset.querySelector("tbody");
  const max = Number(fieldset.dataset.maxRows || "500");
  if (body.rows.length >= max) {
    button.disabled = true;
    return;
  }
  const row = fieldset.querySelector("template").content.firstElementChild.cloneNode(true);
  const number = String(body.rows.length);
  row.querySelectorAll("[name], [id]").forEach((input) => {
    for (const attr of ["name", "id"]) {
      if (input.hasAttribute(attr)) input.setAttribute(attr, input.getAttribute(attr).replace("__row__", number));
    }
  });
  body.appendChild(row);
  const first = row.querySelector("input, select");
  if (first) first.focus();
});
