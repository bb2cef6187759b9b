// Loaded into the lab page by faults.mjs as a same-origin script (which the page's CSP allows):
// records whether the policy lets it evaluate strings as code.
let evaluated = false;
try {
  // eslint-disable-next-line no-eval
  evaluated = eval('1 + 1') === 2;
} catch {
  // refused by the CSP
}
let constructed = false;
try {
  constructed = new Function('return 2')() === 2;
} catch {
  // refused by the CSP
}
window.__cspProbe = { evaluated, constructed };
