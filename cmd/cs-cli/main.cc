// `cs`: the code-sous CLI. Everything lives in internal/cli.
#include <iostream>

#include "internal/cli/cli.h"

int main(int argc, char** argv) {
  return cs::cli::run(argc, argv, {std::cin, std::cout, std::cerr});
}
