// Starts `parallizer lsp` over stdio for Markdown files (the plans) of the workspace.
// Install: `npm install` here, then copy or link this folder into ~/.vscode/extensions/.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("parallizer");
  const serverOptions = {
    command: config.get("command", "parallizer"),
    args: ["lsp"],
    transport: TransportKind.stdio,
    options: { env: { ...process.env, ...config.get("env", {}) } },
  };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "markdown" }],
  };
  client = new LanguageClient("parallizer", "Parallizer", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
