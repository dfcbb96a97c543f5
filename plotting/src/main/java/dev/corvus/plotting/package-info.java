/**
 * Charts of training runs: {@link dev.corvus.plotting.LossCurves} draws train and validation loss
 * against the step as a PNG, headless, through XChart (an edge module, so the core modules stay
 * free of dependencies).
 */
package dev.corvus.plotting;
