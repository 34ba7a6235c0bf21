/** `xero-scim sandbox`: the built-in Xero sandbox alone (it parses its own flags; see SANDBOX_USAGE). */
export { runSandboxCommand as runSandbox, SANDBOX_USAGE, SandboxUsageError } from '../sandbox/cli';
