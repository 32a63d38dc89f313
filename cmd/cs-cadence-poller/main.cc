// cs-cadence-poller: see SPEC §2. Everything lives in internal/platform.
#include "internal/platform/services.h"

int main(int argc, char** argv) {
  return cs::platform::serviceMain(argc, argv, cs::config::Service::CadencePoller,
                                   &cs::platform::makeCadencePollerService);
}
