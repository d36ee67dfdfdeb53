/** xl's transient names: both copies coexist under them during a same-host migration. */
export const incomingName = (name: string): string => `${name}--incoming`;
export const migratedAwayName = (name: string): string => `${name}--migratedaway`;
/** The domain's own name from either transient one (or itself). */
export const ownName = (name: string): string => name.replace(/--(migratedaway|incoming)$/, '');
