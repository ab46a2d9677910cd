#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chat.h"

static const char *smollm_tpl =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

Test(chat, chatml_with_the_templates_default_system) {
    calm_chat_template t = calm_chat_detect(smollm_tpl);
    cr_assert_eq(t.kind, CALM_CHAT_CHATML);
    cr_assert_str_eq(t.default_system,
                     "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    calm_msg m[] = {{"user", "Hi"}};
    char *s = calm_chat_render(&t, m, 1, 0, 1);
    cr_assert_str_eq(
        s, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
           "Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    free(s);
    calm_msg m2[] = {{"system", "Be brief."}, {"user", "Hi"}};
    s = calm_chat_render(&t, m2, 2, 0, 1);
    cr_assert_str_eq(s, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        "<|im_start|>assistant\n");
    free(s);
}

Test(chat, llama3_and_llama2) {
    calm_chat_template t = calm_chat_detect("{{ '<|start_header_id|>' + message['role'] }}");
    cr_assert_eq(t.kind, CALM_CHAT_LLAMA3);
    calm_msg m[] = {{"system", "S"}, {"user", "U"}};
    char *s = calm_chat_render(&t, m, 2, 0, 1);
    cr_assert_str_eq(s, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                        "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
                        "<|start_header_id|>assistant<|end_header_id|>\n\n");
    free(s);
    t = calm_chat_detect("{{ bos_token + '[INST] ' + content + ' [/INST]' }}");
    cr_assert_eq(t.kind, CALM_CHAT_LLAMA2);
    s = calm_chat_render(&t, m, 2, 0, 1);
    cr_assert_str_eq(s, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]");
    free(s);
    cr_assert_eq(calm_chat_detect(NULL).kind, CALM_CHAT_CHATML);
}
