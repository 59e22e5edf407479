// Filters without a full reload: the page works without this file.
(function () {
  var form = document.getElementById("filters");
  if (!form || !window.fetch) return;
  function load(url) {
    fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "partial=1", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        document.getElementById("results").innerHTML = html;
        history.replaceState(null, "", url);
      })
      .catch(function () { window.location = url; });
  }
  function submit(event) {
    if (event) event.preventDefault();
    var params = new URLSearchParams(new FormData(form));
    var client = document.getElementById("f-client");
    if (client && client.value) params.set("client_code", client.value);
    load("/documents?" + params.toString());
  }
  form.addEventListener("submit", submit);
  form.addEventListener("change", submit);
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "f-client") submit();
  });
})();
