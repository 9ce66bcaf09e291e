// WGSL sources are imported as text; esbuild's text loader inlines them into both bundles.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
