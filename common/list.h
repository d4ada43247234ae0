/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Intrusive doubly linked lists, as in systemd's list.h: an object may sit in a list without allocation. */

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item)                              \
        do {                                                        \
                typeof(*(head)) **_head = &(head), *_item = (item); \
                if ((_item->name##_next = *_head))                  \
                        _item->name##_next->name##_prev = _item;    \
                _item->name##_prev = NULL;                          \
                *_head = _item;                                     \
        } while (0)

#define LIST_APPEND(name, head, item)                                          \
        do {                                                                   \
                typeof(*(head)) **_hd = &(head), *_it = (item), *_tail = *_hd; \
                while (_tail && _tail->name##_next)                            \
                        _tail = _tail->name##_next;                            \
                _it->name##_next = NULL;                                       \
                _it->name##_prev = _tail;                                      \
                if (_tail)                                                     \
                        _tail->name##_next = _it;                              \
                else                                                           \
                        *_hd = _it;                                            \
        } while (0)

#define LIST_REMOVE(name, head, item)                                         \
        do {                                                                  \
                typeof(*(head)) **_head = &(head), *_item = (item);           \
                if (_item->name##_next)                                       \
                        _item->name##_next->name##_prev = _item->name##_prev; \
                if (_item->name##_prev)                                       \
                        _item->name##_prev->name##_next = _item->name##_next; \
                else if (*_head == _item)                                     \
                        *_head = _item->name##_next;                          \
                _item->name##_next = _item->name##_prev = NULL;               \
        } while (0)

#define LIST_FOREACH(name, i, head) for (typeof(*(head)) *i = (head); i; i = i->name##_next)

/* Safe against removal of i inside the loop body. */
#define LIST_FOREACH_SAFE(name, i, n, head)                                  \
        for (typeof(*(head)) *i = (head), *n = i ? i->name##_next : NULL; i; \
             i = n, n = i ? i->name##_next : NULL)
