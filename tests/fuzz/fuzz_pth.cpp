// Fuzz target for the PyTorch checkpoint reader (libFuzzer's entry point): the ZIP container,
// and the restricted unpickler on its own (inside an archive, data.pkl's CRC-32 turns away most
// mutations before the unpickler sees them). Any input must give a result or a
// statescope::Error; a crash, a sanitizer report or another exception is a bug.
//
// Seeds (corpus/pth): small torch.save files of tests/data/pth, their data.pkl entries on their
// own, and the start of a legacy-format file; the larger fixtures in tests/data/pth make a good
// extra corpus for a long run (tools/fuzz.sh SECONDS pth, then pass tests/data/pth by hand).
#include "core/pickle_reader.h"
#include "core/pth_file.h"
#include "statescope/error.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        statescope::PthFile file(data, size, "fuzz.pth");
        for (const statescope::TensorEntry& e : file.tensors()) // touch every byte the reader hands out
            for (size_t i = 0; i < e.nbytes; ++i) (void)*(volatile const uint8_t*)(e.data + i);
    } catch (const statescope::Error&) {
    }
    try {
        statescope::pickle::unpickle(data, size, "fuzz: data.pkl");
    } catch (const statescope::Error&) {
    }
    return 0;
}
