/* EOS-CL public API: include this one header.
 * Expansive Over-Sampling for imbalanced deep learning, on any OpenCL device. */
#ifndef EOS_EOS_H
#define EOS_EOS_H

/* The project's one version number: CMakeLists.txt reads it from here for the library's
 * SONAME, eos-cl.pc and the CMake package's version file. */
#define EOS_VERSION "0.1.0"

#include "eos/status.h"
#include "eos/runtime.h"
#include "eos/tensor.h"
#include "eos/gemm.h"
#include "eos/rng.h"
#include "eos/data.h"
#include "eos/checkpoint.h"
#include "eos/resnet.h"
#include "eos/embeddings.h"
#include "eos/layers.h"
#include "eos/metrics.h"
#include "eos/train.h"
#include "eos/knn.h"
#include "eos/oversample.h"
#include "eos/finetune.h"
#include "eos/pipeline.h"
#include "eos/projection.h"
#include "eos/report.h"
#include "eos/json.h"

#endif /* EOS_EOS_H */
