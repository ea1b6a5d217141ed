/**
 * The built-in agent's prompts: one fenced bash block per reply, the observation back as the next user
 * message, a sentinel line to submit. `{{working_dir}}`, `{{problem_statement}}` and `{{submit_sentinel}}` are
 * filled in.
 */

export const DEFAULT_SYSTEM_TEMPLATE = `You are a software engineer fixing an issue in a repository, working in a bash shell.

Every reply MUST have this form:

THOUGHT: your reasoning about what to do next.

\`\`\`bash
one_command_here
\`\`\`

Rules:
- Exactly ONE \`\`\`bash block per reply; it is run and its output comes back as the next message.
- Each command runs in a fresh shell in {{working_dir}}: \`cd\` and variables do not carry over.
- Do not run interactive programs (editors, pagers); edit files with sed, python3 or a heredoc.
- When the fix is done, submit with this command alone:

\`\`\`bash
echo {{submit_sentinel}}
\`\`\``;

export const DEFAULT_INSTANCE_TEMPLATE = `<uploaded_files>
{{working_dir}}
</uploaded_files>
I've uploaded a code repository in the directory {{working_dir}}.

<pr_description>
{{problem_statement}}
</pr_description>

Change the non-test files so that the issue in <pr_description> is resolved. Do NOT modify the tests.
Explore the code, reproduce the issue, fix it, check the fix, then submit.`;

export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => vars[name] ?? whole);
}
