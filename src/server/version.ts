/**
 * Versions embedded as constants (not read from package.json at run time), so a bundled `swerex-remote`
 * (one esbuild file in a container) still knows them. A test keeps `SWEREX_TS_VERSION` equal to package.json.
 */

/** This package's version. */
export const SWEREX_TS_VERSION = "0.1.0";
/** The SWE-ReX release whose `swerex-remote` wire protocol we speak. */
export const SWEREX_PROTOCOL_VERSION = "1.4.0";
