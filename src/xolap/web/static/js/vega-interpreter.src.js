// Vega's expression interpreter, bundled for the browser as the global `vegaInterpreter`: with vega-embed's
// `ast: true` and `expr: vegaInterpreter.expressionInterpreter`, charts evaluate expressions without eval or
// new Function, so the page's Content-Security-Policy needs no 'unsafe-eval'.
export { expressionInterpreter } from "vega-interpreter";
