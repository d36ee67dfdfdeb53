/** xl entry point: the only place that maps errors to exit codes. */
export async function main(argv: string[]): Promise<number> {
  process.stdout.write(`xl: ${argv.join(' ')}\n`);
  return 0;
}
