/**
 * Communication between ranks: the {@link dev.corvus.comm.Communicator} SPI (buffered
 * point-to-point, all-gather, reduce-scatter, all-to-all, all-reduce, barrier, sub-groups, byte
 * counters and timeouts), ranks as threads of one JVM ({@link dev.corvus.comm.InJvmCluster}) and
 * as MPI processes ({@link dev.corvus.comm.MpiCommunicator}, Open MPI through FFM).
 * {@link dev.corvus.comm.Communicators#fromEnvironment} picks the one the process was started
 * for. A rank that fails or stalls makes its peers throw a {@link dev.corvus.comm.CommException}
 * within the timeout instead of hanging.
 */
package dev.corvus.comm;
