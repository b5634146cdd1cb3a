// MathJax 3 settings for pymdownx.arithmatex (generic mode: \( \) inline, \[ \] display).
// The MathJax files themselves are served from this site (assets/mathjax/), copied at build time.
// Every page is a full page load (the theme's instant navigation is off), so MathJax typesets
// each page once at startup; re-typesetting on the theme's document$ events is not needed (and,
// racing the first typeset, left the glyphs unrendered).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};
