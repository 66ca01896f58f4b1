import ts from 'typescript';
import { repoPath } from '../../scripts/lib/resolver-types';

/** The repository's compiler options, as `npm run typecheck` uses them. */
function repoCompilerOptions(): ts.CompilerOptions {
  const configPath = repoPath('tsconfig.json');
  const parsed = ts.parseJsonConfigFileContent(
    ts.readConfigFile(configPath, ts.sys.readFile).config,
    ts.sys,
    repoPath(''),
  );
  return { ...parsed.options, noEmit: true, incremental: false };
}

/**
 * Typechecks modules that exist only in memory (beside the tests, so imports resolve as theirs
 * do), in one program; each module's diagnostics as text.
 */
export function diagnosticsOf(sources: Record<string, string>): Record<string, string[]> {
  const files = new Map(Object.entries(sources).map(([name, text]) => [repoPath(`test/${name}.ts`), text]));
  const options = repoCompilerOptions();
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile(name, language, ...rest) : ts.createSourceFile(name, text, language);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host });
  return Object.fromEntries(
    Object.keys(sources).map((name) => [
      name,
      ts
        .getPreEmitDiagnostics(program, program.getSourceFile(repoPath(`test/${name}.ts`)))
        .map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`),
    ]),
  );
}
