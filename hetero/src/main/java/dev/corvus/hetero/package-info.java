/** HeteGen: CPU+device split linear layers (see README and papers.md section 4). */
package dev.corvus.hetero;
