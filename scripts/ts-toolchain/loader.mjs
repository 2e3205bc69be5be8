// Node resolves the contract's imports (`wagate:plugin/<interface>@<version>`) and
// "wagate:testing" to the fake host, so a plugin's compiled code runs unchanged in its tests.
export async function resolve(specifier, context, next) {
  const contract = /^wagate:plugin\/([a-z-]+)@/.exec(specifier);
  if (contract) return { url: new URL(`./fake/${contract[1]}.mjs`, import.meta.url).href, shortCircuit: true };
  if (specifier === "wagate:testing") return { url: new URL("./fake/host.mjs", import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
