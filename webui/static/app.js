// Behaviour of every page, kept out of the templates: the Content-Security-Policy allows no inline script.

// A picker's search box (templates/start/_picker.html): Enter searches; it must not submit the start
// form half-filled.
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.matches && event.target.matches("input[data-enter-searches]")) {
    event.preventDefault();
  }
});
