// Cost of the two ways to give a rootless runtime a read-only binary:
// (a) a read-only bind view made in a fresh user+mount namespace,
// (b) a sealed memfd copy of the binary (runc 1.1's way).
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/mount.h>
static const char *bin;
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static int view(void){
  int slot=open("/dev/null",O_RDONLY|O_CLOEXEC);
  pid_t p=syscall(SYS_clone,CLONE_NEWUSER|CLONE_NEWNS|CLONE_FILES|SIGCHLD,0,0,0,0);
  if(p==0){int fd=syscall(SYS_open_tree,AT_FDCWD,bin,OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC);
    if(fd<0)_exit(1);struct mount_attr a={.attr_set=MOUNT_ATTR_RDONLY};
    if(syscall(SYS_mount_setattr,fd,"",AT_EMPTY_PATH,&a,sizeof a))_exit(2);
    dup3(fd,slot,O_CLOEXEC);_exit(0);}
  int st;waitpid(p,&st,0);if(st){fprintf(stderr,"view failed %d\n",st);exit(1);}return slot;}
static int memfd(void){
  int src=open(bin,O_RDONLY|O_CLOEXEC);struct stat s;fstat(src,&s);
  int fd=memfd_create("husk",MFD_CLOEXEC|MFD_ALLOW_SEALING);
  off_t off=0;while(off<s.st_size){if(sendfile(fd,src,&off,s.st_size-off)<=0){perror("sendfile");exit(1);}}
  fcntl(fd,F_ADD_SEALS,F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE);close(src);return fd;}
int main(int c,char**v){bin=v[1];int n=atoi(v[2]);
  for(int k=0;k<2;k++){double best[2]={0,0};
   for(int m=0;m<2;m++){double t0=now();for(int i=0;i<n;i++){int fd=m?memfd():view();close(fd);}best[m]=(now()-t0)/n;}
   printf("per call: view %.3f ms, memfd copy %.3f ms (binary %s)\n",best[0],best[1],bin);}
}
