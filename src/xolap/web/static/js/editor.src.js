// CodeMirror 6 editors for the custom-analytics tab; bundled by `npm run build` into static/vendor/editor.js
// (CodeMirror 6 is ESM-only, so esbuild turns it into one IIFE that sets window.XolapEditor).
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { sql, StandardSQL } from "@codemirror/lang-sql";
import { json, jsonParseLinter } from "@codemirror/lang-json";

/**
 * Replace a <textarea> with a CodeMirror editor that keeps the textarea's value in sync (so plain forms still work).
 * options.language: "sql" | "json"; options.onRun: called on Ctrl/Cmd+Enter.
 * Returns {view, getValue(), setValue(text), insert(text)} (insert replaces the selection, at the cursor).
 */
export function fromTextarea(textarea, options = {}) {
  const language = options.language === "json" ? json() : sql({ dialect: StandardSQL, upperCaseKeywords: true });
  const runKeys = options.onRun
    ? [{ key: "Mod-Enter", run: () => { options.onRun(); return true; } }]
    : [];
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        basicSetup,
        keymap.of([...runKeys, indentWithTab]),
        language,
        EditorView.lineWrapping,
        // set through CodeMirror: a class added to view.dom by hand is dropped at the editor's next update
        EditorView.editorAttributes.of({ class: `xolap-editor xolap-editor-${options.language || "sql"}` }),
        // the text box a screen reader and a keyboard user meet is the editor's, not the hidden textarea: it takes the
        // textarea's label as its name and the textarea's description (how to leave: Tab indents here)
        EditorView.contentAttributes.of(carriedAttributes(textarea)),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.style.display = "none";
  textarea.parentNode.insertBefore(view.dom, textarea);
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (text) => {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      textarea.value = text;
    },
    insert: (text) => {
      view.dispatch(view.state.replaceSelection(text));
      view.focus();
    },
  };
}

// The textarea's accessible name (its <label>) and description (aria-describedby) for the editor's text box.
function carriedAttributes(textarea) {
  const attributes = {};
  const label = textarea.labels && textarea.labels[0];
  if (label) attributes["aria-label"] = label.textContent.trim();
  const described = textarea.getAttribute("aria-describedby");
  if (described) attributes["aria-describedby"] = described;
  return attributes;
}

export { jsonParseLinter };
