#include "notify/mail.h"

namespace retention {

MailSender::~MailSender() = default;

}  // namespace retention
