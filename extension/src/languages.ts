// The cell languages of notebook.toml (SPEC 2) and how the editor presents each: one table,
// so a new kind is one row here. A cell's kind always comes from the manifest's `language`,
// never from its file's suffix (the original Strata keeps SQL cells in .py files); the
// suffix is only what a cell added in the editor gets.

export type CellLanguage = 'python' | 'sql' | 'prompt' | 'markdown' | 'r';

interface Presentation {
  /** VS Code language id of the cell. Python gets an id of our own, so Python tooling that
   * analyses notebooks cell by cell (Pylance, Jupyter) does not report cross-cell names; SQL
   * one too, whose grammar embeds VS Code's SQL and adds the annotation block and `:binds`. */
  languageId: string;
  /** Other language ids a user may pick for a cell of this language. */
  aliases: readonly string[];
  /** File suffix for a cell created in the editor. */
  suffix: string;
  /** Shown as a markup cell, never executed. */
  markup: boolean;
}

const LANGUAGES: Record<CellLanguage, Presentation> = {
  python: { languageId: 'strata-python', aliases: ['python'], suffix: '.py', markup: false },
  sql: { languageId: 'strata-sql', aliases: ['sql'], suffix: '.sql', markup: false },
  prompt: { languageId: 'strata-prompt', aliases: [], suffix: '.prompt', markup: false },
  markdown: { languageId: 'markdown', aliases: [], suffix: '.md', markup: true },
  r: { languageId: 'r', aliases: [], suffix: '.R', markup: false },
};

/** What a cell without a (known) `language` is, as in the engine. */
export const DEFAULT_LANGUAGE: CellLanguage = 'python';

const ALL = Object.keys(LANGUAGES) as CellLanguage[];

export function isCellLanguage(value: unknown): value is CellLanguage {
  return typeof value === 'string' && (ALL as string[]).includes(value);
}

export function presentation(language: CellLanguage): Presentation {
  return LANGUAGES[language];
}

/** The cell language of a VS Code language id (a code cell of any other language: python). */
export function languageOfId(languageId: string): CellLanguage {
  return ALL.find((language) => LANGUAGES[language].languageId === languageId || LANGUAGES[language].aliases.includes(languageId)) ?? DEFAULT_LANGUAGE;
}

/** The language ids of code cells: what the controller runs and the language server syncs. */
export const CODE_LANGUAGE_IDS: readonly string[] = ALL.filter((language) => !LANGUAGES[language].markup).map((language) => LANGUAGES[language].languageId);
