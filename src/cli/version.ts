/** Wharf's version, printed by `wharf --version` and `wharf version`. */
export const VERSION = '0.1.0';
/** The Docker Engine API version Wharf speaks. */
export const API_VERSION = '1.41';
