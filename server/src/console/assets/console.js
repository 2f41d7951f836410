// yiwang console: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A campaign template chosen: reload the form with its parameters.
  for (const select of document.querySelectorAll("select[data-autosubmit-get]")) {
    select.addEventListener("change", () => {
      location.href = select.dataset.autosubmitGet + "?" + new URLSearchParams({ template: select.value });
    });
  }
  for (const field of document.querySelectorAll("[data-autosubmit]")) {
    if (field.tagName === "SELECT") {
      // A new time range shows at once.
      field.addEventListener("change", () => field.form.requestSubmit());
    } else {
      // A USB scanner types the QR text and ends with Enter: submit then.
      // Shift+Enter still makes a new line for pasted text.
      field.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && field.value.trim() !== "") {
          event.preventDefault();
          field.form.requestSubmit();
        }
      });
    }
  }
  // After a verification the field is empty and focused for the next scan.
  const qr = document.getElementById("qr");
  if (qr) qr.focus();
});
