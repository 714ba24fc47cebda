/**
 * Makes a rendered file safe as a Terraform string: `${` and `%{` start template interpolations and
 * directives there (haproxy's log-format uses `%{+Q}`), so they are doubled into their literal forms.
 * Terraform turns `$${` back into `${` and `%%{` into `%{`: the container gets the text unchanged.
 */
export function terraformLiteral(text: string): string {
  return text.replaceAll('${', '$${').replaceAll('%{', '%%{');
}
