/** AutoChunk: an activation-memory chunking compiler (see README and papers.md section 5). */
package dev.corvus.chunking;
