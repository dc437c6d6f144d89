/** SEARLE's phi network: it lives below the stages (clip/training/searle-phi-net.ts) because LinCIR's φ is the same network. */
export * from '../../clip/training/searle-phi-net.ts';
