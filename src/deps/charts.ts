/**
 * d3's scales and line generator, for the SVG charts.
 *
 * @module
 */

// @deno-types="npm:@types/d3-scale@4.0.9"
export { scaleLinear, scaleLog } from "npm:d3-scale@4.0.2";
// @deno-types="npm:@types/d3-shape@3.2.0"
export { line as d3line } from "npm:d3-shape@3.2.0";
