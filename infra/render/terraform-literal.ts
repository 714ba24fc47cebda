/**
 * Makes a rendered file safe as a Terraform string: `${` and `%{` start template interpolations and
 * directives there (haproxy's log-format uses `%{+Q}`, its config expands `"${LB_STATS_USER}"`), so they
 * are doubled into their literal forms. Terraform turns `$${` back into `${` and `%%{` into `%{`: the
 * container gets the text unchanged. (Replacement functions, not strings: in a replacement string `$$`
 * means one `$`.)
 */
export function terraformLiteral(text: string): string {
  return text.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
}
