// The catalogs this client renders: the A2UI v0.9 basic catalog (official implementation, all 18
// components and the basic functions) and the cairn catalog, which is the basic catalog plus
// SeatMap and Chart under cairn's own catalog id. A surface uses exactly one catalog (chosen by
// the agent in createSurface), so the cairn catalog repeats the basic components rather than
// mixing catalogs inside one surface (catalog mixing is not part of v0.9).
import { Catalog } from '@a2ui/web_core/v0_9';
import { BASIC_FUNCTIONS } from '@a2ui/web_core/v0_9/basic_catalog';
import { basicCatalog } from '@a2ui/lit/v0_9';
import { SeatMap } from './seat-map.js';
import { Chart } from './chart.js';

// Taken at build time from src/cairn/a2ui/catalogs/cairn/catalog.json (build.mjs), so the
// server's catalog and this client agree on one id.
/* global __CAIRN_CATALOG_ID__ */
export const CAIRN_CATALOG_ID = __CAIRN_CATALOG_ID__;

export const cairnCatalog = new Catalog(
  CAIRN_CATALOG_ID,
  [...basicCatalog.components.values(), SeatMap, Chart],
  BASIC_FUNCTIONS,
);

export { basicCatalog };
