// Plotly reads labels as its small HTML dialect (<b>, <br>, <a href>): user text such as class names goes
// through plotText first, so it is shown as written and never becomes markup or a link.
window.plotText = function (text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
};
