"""stimuli_gen: the asymmetric CycleGAN and Pix2Pix baseline that produce the 18 stimuli and their manifest. Imports neither study nor analysis."""
